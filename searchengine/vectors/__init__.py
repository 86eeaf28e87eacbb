"""Vector indexes: FAISS indexes of unit vectors searched by inner product, one class per kind
(flat, hnsw, ivf, ivfpq) behind a factory (factory.py), and which kind a collection gets (choice.py)."""
