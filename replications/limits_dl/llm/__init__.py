"""The LLM harness (note §9 Tier B): text models behind one interface, the paper's four task
families as text problems, the 500 samples x 3 runs protocol, and the published numbers beside."""
