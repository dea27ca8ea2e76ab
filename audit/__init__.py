"""audit: an append-only, tamper-evident, signed audit log with GDPR exports.

Writers: :func:`audit.writer.open_writer` (asyncio, group commit, for the
gateway) and :func:`audit.log.open_log` (synchronous, for CLIs and jobs).
"""
