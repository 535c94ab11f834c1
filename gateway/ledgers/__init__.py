"""The stock and vaccination ledgers inside the running gateway: their HTTP routes, the scan
stations, the upload and daily tasks, and the stock-aware excursion service."""
