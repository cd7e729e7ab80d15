"""Chat channels: one renderer per channel, the one place that escapes text and links per
channel (``render``), and the delivery that claims each destination before posting."""
