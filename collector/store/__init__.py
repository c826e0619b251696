"""The collector's own store reads and schema upkeep: raw-table retention and each org's last record."""
