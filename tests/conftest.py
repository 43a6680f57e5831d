"""Settings every test layer shares: fake credentials, a fixed region, fast bcrypt."""
import os

os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("BCRYPT_ROUNDS", "4")
