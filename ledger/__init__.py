"""Stock and vaccination ledgers of a clinic: scans, catalogue, stock, doses, upload.

Pure parts (`codes`, `idcard`, `batch_field`, `summaries`) do no I/O; the rest keeps its state
in one SQLite file (`db.LedgerDB`, WAL). Every refusal is a `errors.LedgerError` naming the
field and the reason; nothing is changed by a refused operation.
"""
