"""The fault suite (make reliability): real processes, injected faults, a table of what was lost."""
