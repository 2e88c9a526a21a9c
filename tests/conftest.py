"""Settings for every test run: a test environment, a throwaway SQLite file unless DATABASE_URL names
PostgreSQL, and cheap password hashing (production parameters are checked in their own test)."""

import os
import tempfile

os.environ["COSA_ENV"] = "test"
if not os.environ.get("DATABASE_URL"):
    os.environ["DATABASE_URL"] = "sqlite:///" + os.path.join(tempfile.mkdtemp(prefix="cosa-test-"), "test.sqlite3")
os.environ.setdefault("SECRET_KEY", "test-secret-key-that-is-long-enough-for-hmac-use")
os.environ.setdefault("ARGON2_TIME_COST", "1")
os.environ.setdefault("ARGON2_MEMORY_KIB", "8")
os.environ.setdefault("COSA_DEV_MAIL_DIR", tempfile.mkdtemp(prefix="cosa-mail-"))
# The test client runs the app on its own event loop while tests query on theirs; a pool is bound to one
# loop, so integration tests use a connection per query (the pool itself has its own test).
os.environ.setdefault("DATABASE_POOL_SIZE", "0")
