"""The store FAQ: entries (`entries`), encoders (`encoders`), the cached faiss index
(`index`) and the answer / suggest / unknown decision (`decide`)."""
