"""Node types this app contributes to the workflow engine."""

NODE_TYPES = []
