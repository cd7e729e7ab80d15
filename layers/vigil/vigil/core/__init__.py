"""What every capability shares: the data contracts, time, errors, event parsing, logging."""
