"""Getting lines in: files (plain, gzip, bzip2, xz, zstd), globs, directories and rotations,
standard input, journald, and the time stamps of syslog lines (zones, yearless stamps)."""
