"""Training the bundled encoder's image heads (run `python -m searchengine_train -h`), apart from the
runtime package as open_clip_train is from open_clip: searchengine never imports it; the shipped
heads are plain .npz files the encoder reads with numpy.
"""
