"""AWS Health and outages: events read, filtered and announced; outages suspected from Vigil's
own signals, confirmed by AWS Health, and the alerts they explain muted."""
