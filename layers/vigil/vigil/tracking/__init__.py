"""Error tracking: Lambda error lines read from CloudWatch Logs, fingerprinted and counted per
function."""
