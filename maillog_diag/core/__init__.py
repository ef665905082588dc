"""What the tool knows about mail, free of input and output: the event model, correlation of
events into messages and recipients, classification of replies (causes, the provider
knowledge base in `data/`, retry hints), diagnosis, statistics and time windows."""
