"""Demo data: a realistic supplier network in Kazakhstan and Russia.

Used by `sauda seed-demo`, `sauda dev --demo` and the benchmarks in `bench/`. It must scale to
100 000 companies in seconds, so rows are generated in Python level by level (a supplier always
exists before its customers, and the level is known while generating) and written with COPY on
the session's own connection, inside one transaction.

Ids come from the companies sequence (`nextval` for the whole batch), so the sequence never needs
fixing and a concurrent insert through the API cannot collide with the seeded ids. Emails embed
the company id, so re-running adds more data without collisions. They use the `sauda.demo`
domain (like the demo admin), which no mail server delivers, so a demo can never mail strangers.
"""

import itertools
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from mimesis import Address, Gender, Hardware, Locale, Person
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from sauda.auth.models import Role
from sauda.auth.repository import UserRepository
from sauda.auth.service import create_admin
from sauda.config import Settings
from sauda.db import create_engine, create_sessionmaker, transaction
from sauda.network.models import MAX_LEVEL, Company, CompanyKind
from sauda.security import hash_password

DEMO_COMPANIES = 60
DEMO_EMPLOYEE_PASSWORD = "sauda-employee-2026"
EMAIL_DOMAIN = "sauda.demo"
# Serialises seeding, so two `dev --demo` processes starting together seed once.
SEED_LOCK = 0x5A0DA_0DE0

KIND_BY_LEVEL = (
    CompanyKind.factory,
    CompanyKind.distributor,
    CompanyKind.dealer_center,
    CompanyKind.retail_chain,
    CompanyKind.entrepreneur,
)
# Share of companies on each level: few factories, many small traders at the bottom.
LEVEL_SHARES = (0.01, 0.04, 0.15, 0.30, 0.50)
# Some customers are not of their level's usual kind: a trader buying straight from a
# distributor, a retail chain buying from a distributor. (kind, probability) per level.
KIND_VARIETY: dict[int, tuple[tuple[CompanyKind, float], ...]] = {
    1: ((CompanyKind.entrepreneur, 0.05),),
    2: ((CompanyKind.entrepreneur, 0.10), (CompanyKind.retail_chain, 0.08)),
    3: ((CompanyKind.entrepreneur, 0.15),),
}
ZERO_DEBT_SHARE = 0.08
GENDERS = (Gender.MALE, Gender.FEMALE)

KAZAKHSTAN, RUSSIA = "Казахстан", "Россия"
COUNTRIES, COUNTRY_SHARES = (KAZAKHSTAN, RUSSIA), (0.7, 0.3)
# fmt: off
# Big cities carry most of the trade; weights are roughly population.
CITIES: dict[str, tuple[tuple[str, int], ...]] = {
    KAZAKHSTAN: (
        ("Алматы", 220), ("Астана", 130), ("Шымкент", 110), ("Караганда", 50), ("Актобе", 55),
        ("Тараз", 40), ("Павлодар", 35), ("Усть-Каменогорск", 33), ("Семей", 32), ("Атырау", 30),
        ("Костанай", 25), ("Кызылорда", 25), ("Уральск", 24), ("Петропавловск", 22), ("Актау", 20),
        ("Темиртау", 18), ("Туркестан", 18), ("Кокшетау", 16), ("Талдыкорган", 15),
        ("Экибастуз", 13), ("Рудный", 12), ("Жезказган", 9),
    ),
    RUSSIA: (
        ("Москва", 300), ("Санкт-Петербург", 140), ("Новосибирск", 40), ("Екатеринбург", 40),
        ("Казань", 33), ("Нижний Новгород", 30), ("Челябинск", 30), ("Омск", 27), ("Самара", 27),
        ("Ростов-на-Дону", 27), ("Уфа", 27), ("Красноярск", 27), ("Краснодар", 26), ("Пермь", 25),
        ("Воронеж", 25), ("Волгоград", 24), ("Тюмень", 20), ("Оренбург", 14), ("Барнаул", 15),
        ("Астрахань", 11),
    ),
}
# Share of Russian companies placed in a smaller town from mimesis' list of Russian cities.
SMALL_TOWN_SHARE = 0.2

LEGAL_FORMS = {KAZAKHSTAN: ("ТОО", "ТОО", "АО"), RUSSIA: ("ООО", "ООО", "АО")}
BRAND_ROOTS = {
    KAZAKHSTAN: (
        "Алтын", "Сункар", "Байтерек", "Тулпар", "Береке", "Жулдыз", "Арман", "Нур", "Дала",
        "Асыл", "Кайнар", "Шанырак", "Акжол", "Самал", "Тенгри", "Каспий", "Алатау", "Жетысу",
        "Сарыарка", "Достык",
    ),
    RUSSIA: (
        "Север", "Восток", "Вектор", "Меридиан", "Гранит", "Орион", "Сибирь", "Волга", "Урал",
        "Прогресс", "Альфа", "Континент", "Стандарт", "Монолит", "Атлант", "Полюс", "Зенит",
        "Байкал", "Ладога", "Енисей",
    ),
}
BRAND_SUFFIXES = ("", "", "", "-Техно", "Снаб", "Пром", " Плюс", " Групп", "-Сервис", "Торг")
NAME_TEMPLATES = {
    CompanyKind.factory: ("Завод «{b}»", "{f} «{b} Индастриз»", "Фабрика «{b}»", "{f} «{b}-Электро»"),
    CompanyKind.distributor: ("{f} «{b} Дистрибьюшн»", "Торговый дом «{b}»", "{f} «{b} Трейд»"),
    CompanyKind.dealer_center: ("Дилерский центр «{b}»", "{f} «{b} Сервис»", "{f} «{b} Дилер»"),
    CompanyKind.retail_chain: ("Сеть магазинов «{b}»", "{f} «{b} Маркет»", "{f} «{b}»"),
}
EMAIL_PREFIXES = ("info", "office", "sales", "zakaz", "snab", "opt", "torg", "buh")

# (product name, SKU code)
PRODUCT_CATEGORIES = (
    ("Телевизор", "TV"), ("Холодильник", "RF"), ("Стиральная машина", "WM"), ("Смартфон", "SM"),
    ("Ноутбук", "NB"), ("Кондиционер", "AC"), ("Пылесос", "VC"), ("Микроволновая печь", "MW"),
    ("Электрочайник", "KT"), ("Посудомоечная машина", "DW"), ("Монитор", "MN"), ("Планшет", "TB"),
)
MODEL_LETTERS = "ABCDEFGHKMNPRSTX"
MODEL_TAILS = ("", "", "X", "S", "Pro", "Plus", "Max")
FIRST_RELEASE = date(2016, 1, 1)

COMPANY_COLUMNS = (
    "id", "name", "kind", "email", "country", "city", "street", "house_number", "supplier_id",
    "level", "debt",
)
# fmt: on
PRODUCT_COLUMNS = ("company_id", "name", "model", "release_date", "sku")
USER_COLUMNS = ("email", "password_hash", "full_name", "role", "company_id", "is_active")


@dataclass
class _Country:
    """The mimesis providers of one country: people and streets in its own language."""

    name: str
    person: Person
    address: Address
    cities: list[str]
    city_cum_weights: list[int]


@dataclass
class _Generated:
    companies: list[tuple[Any, ...]] = field(default_factory=list)
    products: list[tuple[Any, ...]] = field(default_factory=list)
    users: list[tuple[Any, ...]] = field(default_factory=list)
    levels: Counter[int] = field(default_factory=Counter)
    countries: Counter[str] = field(default_factory=Counter)


class _NetworkGenerator:
    """Builds the rows of a network; deterministic for a given seed and first id."""

    def __init__(self, seed: int | None, password_hash: str) -> None:
        self.rng = random.Random(seed)
        self.password_hash = password_hash
        self.ru_towns = Address(Locale.RU, seed=_sub_seed(seed, 1))
        self.hardware = Hardware(seed=_sub_seed(seed, 2))
        self.countries = {
            KAZAKHSTAN: _country(KAZAKHSTAN, Locale.KK, seed, 3),
            RUSSIA: _country(RUSSIA, Locale.RU, seed, 5),
        }
        self.today = date.today()

    def network(self, ids: Sequence[int]) -> _Generated:
        out = _Generated()
        suppliers: list[tuple[int, str]] = []  # (id, country) of the previous level's suppliers
        start = 0
        for level, count in enumerate(_level_counts(len(ids))):
            level_ids = ids[start : start + count]
            start += count
            chosen = self._suppliers_for(suppliers, count) if level else [None] * count
            placed: list[tuple[int, str, CompanyKind]] = []
            for company_id, supplier in zip(level_ids, chosen, strict=True):
                kind = self._kind(level)
                country = self._country(supplier)
                self._company(out, company_id, kind, country, level, supplier)
                placed.append((company_id, country.name, kind))
            # Traders rarely supply anyone: they do only when a level holds nobody else.
            suppliers = [(cid, c) for cid, c, kind in placed if kind is not CompanyKind.entrepreneur]
            suppliers = suppliers or [(cid, c) for cid, c, _ in placed]
        return out

    def _suppliers_for(self, suppliers: list[tuple[int, str]], count: int) -> list[tuple[int, str] | None]:
        # A few suppliers are large, most are small: Pareto weights over the previous level.
        weights = [self.rng.paretovariate(1.5) for _ in suppliers]
        return list(self.rng.choices(suppliers, weights=weights, k=count))

    def _kind(self, level: int) -> CompanyKind:
        draw = self.rng.random()
        for kind, share in KIND_VARIETY.get(level, ()):
            if draw < share:
                return kind
            draw -= share
        return KIND_BY_LEVEL[level]

    def _country(self, supplier: tuple[int, str] | None) -> _Country:
        # Customers mostly trade within their supplier's country.
        if supplier is not None and self.rng.random() < 0.85:
            return self.countries[supplier[1]]
        return self.countries[self.rng.choices(COUNTRIES, weights=COUNTRY_SHARES)[0]]

    def _company(
        self,
        out: _Generated,
        company_id: int,
        kind: CompanyKind,
        country: _Country,
        level: int,
        supplier: tuple[int, str] | None,
    ) -> None:
        rng = self.rng
        debt = Decimal("0.00") if supplier is None else self._debt()
        email = f"{rng.choice(EMAIL_PREFIXES)}.{company_id}@{EMAIL_DOMAIN}"
        out.companies.append(
            (
                company_id,
                self._name(kind, country),
                kind.value,
                email,
                country.name,
                self._city(country),
                self._street(country),
                self._house_number(),
                None if supplier is None else supplier[0],
                level,
                debt,
            )
        )
        out.levels[level] += 1
        out.countries[country.name] += 1
        self._products(out, company_id)
        self._employees(out, company_id, country)

    def _name(self, kind: CompanyKind, country: _Country) -> str:
        rng = self.rng
        if kind is CompanyKind.entrepreneur:
            gender = rng.choice(GENDERS)
            person = country.person
            return f"ИП {person.last_name(gender)} {person.first_name(gender)[0]}."
        if rng.random() < 0.2:  # a family business: "ТОО «Сейтказиев Трейд»"
            brand = country.person.last_name(Gender.MALE)
        else:
            brand = rng.choice(BRAND_ROOTS[country.name]) + rng.choice(BRAND_SUFFIXES)
        return rng.choice(NAME_TEMPLATES[kind]).format(b=brand, f=rng.choice(LEGAL_FORMS[country.name]))

    def _city(self, country: _Country) -> str:
        if country.name == RUSSIA and self.rng.random() < SMALL_TOWN_SHARE:
            return self.ru_towns.city()
        return self.rng.choices(country.cities, cum_weights=country.city_cum_weights)[0]

    def _street(self, country: _Country) -> str:
        name = country.address.street_name()
        if country.name == KAZAKHSTAN:
            return f"{name} {country.address.street_suffix()}"  # "Абай даңғылы"
        if name.endswith(("ая", "яя")):  # feminine names agree only with "улица"
            return f"ул. {name}"
        return f"{self.rng.choice(('ул.', 'ул.', 'пр-т', 'пер.'))} {name}"

    def _house_number(self) -> str:
        number = str(self.rng.randint(1, 250))
        draw = self.rng.random()
        if draw < 0.1:
            return f"{number}{self.rng.choice('АБВ')}"
        if draw < 0.2:
            return f"{number}/{self.rng.randint(1, 5)}"
        return number

    def _debt(self) -> Decimal:
        if self.rng.random() < ZERO_DEBT_SHARE:
            return Decimal("0.00")
        kopecks = min(int(self.rng.lognormvariate(13.0, 1.6)), 5_000_000_000)
        return Decimal(kopecks).scaleb(-2)

    def _products(self, out: _Generated, company_id: int) -> None:
        rng = self.rng
        for number in range(1, rng.randint(2, 4) + 1):
            category, code = rng.choice(PRODUCT_CATEGORIES)
            brand = self.hardware.manufacturer()
            if code == "SM":
                model = self.hardware.phone_model()
            else:
                model = f"{code}-{rng.randint(100, 999)}{rng.choice(MODEL_LETTERS)}{rng.choice(MODEL_TAILS)}"
            released = date.fromordinal(rng.randint(FIRST_RELEASE.toordinal(), self.today.toordinal()))
            sku = f"{code}{rng.randint(10000, 99999)}-{number:02d}"  # the suffix keeps it unique
            out.products.append((company_id, f"{category} {brand}", model, released, sku))

    def _employees(self, out: _Generated, company_id: int, country: _Country) -> None:
        for number in range(1, self.rng.randint(1, 3) + 1):
            local = country.person.email().split("@", 1)[0]
            email = f"{local}.{company_id}.{number}@{EMAIL_DOMAIN}"
            full_name = country.person.full_name(self.rng.choice(GENDERS))
            out.users.append((email, self.password_hash, full_name, Role.employee.value, company_id, True))


def _sub_seed(seed: int | None, offset: int) -> int | None:
    return None if seed is None else seed * 10 + offset


def _country(name: str, locale: Locale, seed: int | None, offset: int) -> _Country:
    cities, weights = zip(*CITIES[name], strict=True)
    return _Country(
        name=name,
        person=Person(locale, seed=_sub_seed(seed, offset)),
        address=Address(locale, seed=_sub_seed(seed, offset + 1)),
        cities=list(cities),
        city_cum_weights=list(itertools.accumulate(weights)),
    )


def _level_counts(total: int) -> list[int]:
    """How many companies sit on each level: every level present once there are five."""
    if total <= MAX_LEVEL + 1:
        return [1] * total
    counts = [max(1, round(total * share)) for share in LEVEL_SHARES[:-1]]
    return [*counts, total - sum(counts)]


async def _reserve_company_ids(conn: AsyncConnection, count: int) -> list[int]:
    stmt = text("SELECT nextval(pg_get_serial_sequence('companies', 'id')) FROM generate_series(1, :n)")
    return sorted((await conn.execute(stmt, {"n": count})).scalars().all())


async def _copy(
    conn: AsyncConnection, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    # COPY through the driver on the session's own connection: same transaction, no round trips.
    # The connection has already run a statement, so the transaction has begun.
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    await driver.copy_records_to_table(table, records=rows, columns=list(columns))


async def _seed(session: AsyncSession, *, companies: int, seed: int | None) -> _Generated:
    conn = await session.connection()
    await conn.execute(select(func.pg_advisory_xact_lock(SEED_LOCK)))
    ids = await _reserve_company_ids(conn, companies)
    # Argon2 is slow on purpose: hash once, every demo employee shares the password.
    generated = _NetworkGenerator(seed, hash_password(DEMO_EMPLOYEE_PASSWORD)).network(ids)
    await _copy(conn, "companies", COMPANY_COLUMNS, generated.companies)
    await _copy(conn, "products", PRODUCT_COLUMNS, generated.products)
    await _copy(conn, "users", USER_COLUMNS, generated.users)
    return generated


async def _analyze(session: AsyncSession) -> None:
    # Fresh statistics, so the planner sees the new rows before autovacuum gets to them.
    await session.execute(text("ANALYZE companies, products, users"))


def _summary(generated: _Generated, seconds: float) -> str:
    levels = ", ".join(f"level {level}: {generated.levels[level]}" for level in sorted(generated.levels))
    countries = ", ".join(f"{name}: {count}" for name, count in generated.countries.most_common())
    return (
        f"Seeded {len(generated.companies)} companies ({levels}; {countries}), "
        f"{len(generated.products)} products and {len(generated.users)} employees "
        f"(emails *@{EMAIL_DOMAIN}, password {DEMO_EMPLOYEE_PASSWORD}) in {seconds:.1f} s."
    )


async def seed_network(settings: Settings, *, companies: int, seed: int | None) -> str:
    """Add `companies` companies (with products and employees) to the database; returns a summary."""
    started = time.perf_counter()
    engine = create_engine(settings)
    try:
        sessionmaker = create_sessionmaker(engine)
        async with transaction(sessionmaker) as session:
            generated = await _seed(session, companies=companies, seed=seed)
        async with transaction(sessionmaker) as session:
            await _analyze(session)
    finally:
        await engine.dispose()
    return _summary(generated, time.perf_counter() - started)


async def ensure_demo(settings: Settings, email: str, password: str) -> str:
    """Idempotent demo setup: a network when there are no companies yet, and the demo admin."""
    engine = create_engine(settings)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            await session.execute(select(func.pg_advisory_xact_lock(SEED_LOCK)))
            lines = [await _ensure_network(session), await _ensure_admin(session, email, password)]
    finally:
        await engine.dispose()
    return "\n".join(lines)


async def _ensure_network(session: AsyncSession) -> str:
    existing = await session.scalar(select(func.count()).select_from(Company))
    if existing:
        return f"Demo network: {existing} companies already present, nothing added."
    started = time.perf_counter()
    generated = await _seed(session, companies=DEMO_COMPANIES, seed=None)
    return _summary(generated, time.perf_counter() - started)


async def _ensure_admin(session: AsyncSession, email: str, password: str) -> str:
    user = await UserRepository(session).by_email(email)
    if user is None:
        await create_admin(session, email=email, password=password, full_name="Demo admin")
        return f"Demo admin {email} created."
    if not user.is_admin:
        return f"User {email} exists but is not an administrator; left unchanged."
    return f"Demo admin {email} already exists."
