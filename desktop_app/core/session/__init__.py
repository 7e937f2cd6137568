"""What the window works on, without Qt: the worklist, the model in use and the answer queue."""
