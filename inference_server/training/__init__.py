"""``literai train``: a LoRA adapter trained on CPU on the embedded model's Hugging Face
export (``lora.py``), from a corpus cut into blocks (``corpus.py``), written out as what
each engine serves (``gguf_out.py``: a merged GGUF for llama.cpp, the PEFT folder for
vLLM) and found again by the server as a model alias (``trained.py``)."""
