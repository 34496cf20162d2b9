"""The pure routing core: text, modality and session state in; a decision out. No I/O here."""
