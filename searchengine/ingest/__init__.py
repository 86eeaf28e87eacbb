"""Indexing: files → plan against the catalog → decode and embed (an executor) → commit.

run.py is the driver (sync a folder, add or remove files); plan.py compares files with the
catalog; decoders.py and decode.py turn a file into what its encoder embeds, embed.py embeds a
chunk of them; executor.py runs those in this process (the Ray executor: distributed/).
"""
