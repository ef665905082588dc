"""The reading engine: the line classifier that hands each line to its MTA reader, and the
pipeline that runs a whole scan (one process or several) into the core's statistics."""
