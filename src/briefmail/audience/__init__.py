"""Who a brief reaches: subscribers, topics, suppressions, CSV import/export, segments."""
