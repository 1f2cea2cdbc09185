"""The manifest: what it may hold and the one gate every manifest passes (schema, validator, grammar,
redaction, conform), and the file itself (load, save, atomic write)."""
