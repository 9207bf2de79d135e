"""Settings: one class, read from the environment (prefix SAUDA_) and from `.env`."""

from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET_KEY = "dev-insecure-secret-key-change-me"


class DatabaseSettings(BaseModel):
    url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/sauda"
    pool_size: int = 10
    max_overflow: int = 10
    # A ping per checkout costs a round trip on every request; without it a connection broken
    # by a database restart fails one request. Turn it on behind proxies that drop idle links.
    pool_pre_ping: bool = False
    pool_recycle_seconds: int = 1800
    echo: bool = False


class RedisSettings(BaseModel):
    url: str = "redis://127.0.0.1:6379/0"


class AuthSettings(BaseModel):
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET_KEY)
    access_token_minutes: int = 15
    refresh_token_days: int = 30
    invite_days: int = 7
    min_password_length: int = 10
    login_window_seconds: int = 900
    login_max_failures_per_account: int = 5
    login_max_failures_per_ip: int = 30
    # Fernet key for secrets stored in the database (Kaspi sessions and credentials);
    # unset: derived from secret_key, so rotating secret_key then makes them unreadable.
    encryption_key: SecretStr | None = None


class SmtpSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 1025
    username: str | None = None
    password: SecretStr | None = None
    start_tls: bool = False
    use_tls: bool = False
    timeout_seconds: float = 10.0
    sender: str = "Sauda <no-reply@sauda.local>"


class WorkerSettings(BaseModel):
    queue_name: str = "sauda:queue"
    max_tries: int = 5
    retry_base_seconds: float = 2.0
    retry_max_seconds: float = 300.0
    job_timeout_seconds: int = 600
    max_jobs: int = 10


class NetworkSettings(BaseModel):
    clear_debt_inline_limit: int = 20
    increase_min: str = "5.00"
    increase_max: str = "500.00"
    decrease_min: str = "100.00"
    decrease_max: str = "10000.00"


class SalesSettings(BaseModel):
    import_max_bytes: int = 200 * 1024 * 1024
    import_batch_rows: int = 10_000
    import_max_errors: int = 1000
    export_max_rows: int = 1_000_000


class BrowserSettings(BaseModel):
    chromium_path: str = "/usr/bin/chromium"
    headless: bool = True


BROWSER_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


class KaspiSettings(BaseModel):
    """Kaspi.kz cabinet, auth and storefront (KASPI.md); point the URLs at `sauda kaspi-sandbox`."""

    auth_url: str = "https://idmc.shop.kaspi.kz"
    cabinet_url: str = "https://mc.shop.kaspi.kz"
    storefront_url: str = "https://kaspi.kz"
    origin: str = "https://kaspi.kz"
    referer: str = "https://kaspi.kz/"
    user_agent: str = BROWSER_USER_AGENT
    # browser: Playwright + Chromium; json: the login page's own JSON calls; auto: browser if installed
    login_mode: Literal["auto", "browser", "json"] = "auto"
    timeout_seconds: float = 20.0
    connect_timeout_seconds: float = 10.0
    browser_timeout_seconds: float = 30.0
    # Everything one API request asks of Kaspi (retries, pacing waits and re-logins included)
    # ends within this; then 504. Worker jobs are not held to it.
    interactive_timeout_seconds: float = 8.0
    retries: int = 3
    retry_base_seconds: float = 0.5
    proxy_url: str | None = None
    # Per merchant account: ~3/s earns a 429 and a 30-minute lock, so stay at 2/s.
    pricefeed_per_second: float = 2.0
    # At most this many changes (offers) in any rolling window, a batch of N counting N.
    pricefeed_changes_per_window: int = 250
    pricefeed_window_seconds: int = 1800
    lock_seconds: int = 1800
    # Cabinet reads (offer pages, session checks) per merchant account.
    cabinet_per_second: float = 5.0
    # Per outgoing IP on the public storefront: ~15/s earns a 403 for ~10 s; after any refusal
    # (403/405/429, bot wall) every caller leaves that IP alone for storefront_cooldown_seconds.
    storefront_per_second: float = 10.0
    storefront_cooldown_seconds: int = 10
    # Never more than ceil(rate) lookups per IP in any (1 s + this margin).
    storefront_window_margin_seconds: float = 0.05
    # Longest a caller waits for its rate-limit slot before giving up.
    max_rate_wait_seconds: float = 30.0
    pending_login_seconds: int = 600
    login_lock_seconds: int = 180
    # A job meeting an expired session while another process logs the store in waits this long.
    login_wait_seconds: float = 60.0
    page_size: int = 100
    batch_size: int = 100
    default_city_id: str = "750000000"
    # --- demper (price dumper) ---
    demper_check_minutes: int = 15  # a store's default check interval
    demper_priority_minutes: int = 5  # priority offers are checked this often
    demper_run_seconds: int = 240  # one run stops after this long; the rest stays due
    demper_concurrency: int = 4  # storefront lookups in flight per outgoing IP
    demper_max_attempts: int = 3  # storefront attempts per offer (switching proxy after a 403)
    demper_retry_minutes: int = 2  # an offer whose lookup failed is tried again this much later
    # --- preorders ---
    preorder_check_seconds: int = 300  # how often a pending preorder is looked up on the storefront
    preorder_timeout_seconds: int = 86_400  # pending this long without showing up: failed
    # "Upload and confirm now" looks again every poll seconds, for at most wait seconds, since
    # Kaspi applies an upload a little later.
    preorder_confirm_wait_seconds: float = 60.0
    preorder_confirm_poll_seconds: float = 5.0
    # --- manual prices ---
    # A manual price more than this many percent away from the current one needs `confirm: true`.
    price_change_confirm_percent: float = 30.0
    # --- proxy pool ---
    # A proxy that does not answer rests this long; one Kaspi refuses (403/405/429, bot wall)
    # rests as long as its IP's cool-down (storefront_cooldown_seconds).
    proxy_bench_seconds: int = 120


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SAUDA_",
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    env: Literal["development", "test", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = "http://127.0.0.1:8000"
    timezone: str = "Asia/Almaty"
    log_level: str = "INFO"
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    network: NetworkSettings = Field(default_factory=NetworkSettings)
    sales: SalesSettings = Field(default_factory=SalesSettings)
    browser: BrowserSettings = Field(default_factory=BrowserSettings)
    kaspi: KaspiSettings = Field(default_factory=KaspiSettings)

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> "Settings":
        default = self.auth.secret_key.get_secret_value() == DEFAULT_SECRET_KEY
        if default and self.env != "development":
            raise ValueError(
                "SAUDA_AUTH__SECRET_KEY must be set outside development (the built-in default key is public)"
            )
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@lru_cache
def get_settings() -> Settings:
    return Settings()
