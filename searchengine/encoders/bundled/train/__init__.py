"""Training the bundled encoder's image heads (run `python -m searchengine.encoders.bundled.train -h`).

Not imported by the encoder at run time: the shipped heads are plain .npz files read with numpy.
"""
