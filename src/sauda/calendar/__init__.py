"""Calendar of the Telegram bot: events, daily statistics, appointments without double booking."""
