"""The store: the one ClickHouse client (embedded chDB or a server) and the numbered-migration runner."""
