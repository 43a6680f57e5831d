"""AWS I/O only: boto3 clients (aws), the table's PynamoDB models and transactions (db), the bucket (storage)."""
