"""The ledger's SQLite file (`ledger.sqlite3`) and every query on it: stock, locations,
vaccinations, quarantine, requisitions, uploads and the read audit."""
