"""The browser explorer (being written in this session)."""
