"""SQL table of catalogue records, with a spatial index maintained by the database itself.

SQLite: an R*Tree virtual table (footprint envelope and acquisition time) kept in step
by triggers. PostgreSQL: a PostGIS geometry column (filled by a trigger from the GeoJSON)
with a GiST index when PostGIS is installed, else a plain bbox-column index. Writers
therefore only touch `eoorder_record`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DDL, JSON, DateTime, Float, Index, Integer, String, Text, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base

RTREE = 'eoorder_record_rtree'


class Record(Base):
    """One catalogue record (an EO product, a dataset, a service...) of one collection."""

    __tablename__ = 'eoorder_record'

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    collection: Mapped[str] = mapped_column(String(255))
    identifier: Mapped[str] = mapped_column(String(512))
    type: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    keywords: Mapped[str | None] = mapped_column(Text)          # '|'-joined
    external_ids: Mapped[str | None] = mapped_column(Text)      # '|v1|scheme:v2|'
    search_text: Mapped[str | None] = mapped_column(Text)       # lower-cased words for `q`
    parent_identifier: Mapped[str | None] = mapped_column(String(512))
    platform: Mapped[str | None] = mapped_column(String(128))
    instrument: Mapped[str | None] = mapped_column(String(128))
    product_type: Mapped[str | None] = mapped_column(String(128))
    processing_level: Mapped[str | None] = mapped_column(String(64))
    sensor_type: Mapped[str | None] = mapped_column(String(64))
    cloud_cover: Mapped[float | None] = mapped_column(Float)
    orbit_number: Mapped[int | None] = mapped_column(Integer)
    orbit_direction: Mapped[str | None] = mapped_column(String(16))
    time_start: Mapped[datetime | None] = mapped_column(DateTime)
    time_end: Mapped[datetime | None] = mapped_column(DateTime)
    created: Mapped[datetime | None] = mapped_column(DateTime)
    updated: Mapped[datetime | None] = mapped_column(DateTime)
    minx: Mapped[float | None] = mapped_column(Float)
    miny: Mapped[float | None] = mapped_column(Float)
    maxx: Mapped[float | None] = mapped_column(Float)
    maxy: Mapped[float | None] = mapped_column(Float)
    geometry: Mapped[str | None] = mapped_column(Text)          # GeoJSON text
    content_hash: Mapped[str | None] = mapped_column(String(64))  # harvest: skip unchanged
    document: Mapped[dict] = mapped_column(JSON)                # the record as served
    owner: Mapped[str | None] = mapped_column(String(255))      # registered by a job's owner
    visibility: Mapped[str | None] = mapped_column(String(16))  # 'private': owner and admins

    __table_args__ = (
        Index('ux_eoorder_record_collection_identifier', 'collection', 'identifier',
              unique=True),
        Index('ix_eoorder_record_collection_start', 'collection', 'time_start'),
        Index('ix_eoorder_record_collection_end', 'collection', 'time_end'),
        Index('ix_eoorder_record_collection_parent', 'collection', 'parent_identifier'),
        Index('ix_eoorder_record_collection_product_type', 'collection', 'product_type'),
        Index('ix_eoorder_record_collection_platform', 'collection', 'platform'),
        Index('ix_eoorder_record_collection_cloud', 'collection', 'cloud_cover'),
        Index('ix_eoorder_record_collection_updated', 'collection', 'updated'),
    )


class HarvestState(Base):
    """Where an incremental harvest of SOURCE into COLLECTION got to (for resuming)."""

    __tablename__ = 'eoorder_harvest_state'

    source: Mapped[str] = mapped_column(String(1024), primary_key=True)
    collection: Mapped[str] = mapped_column(String(255), primary_key=True)
    cursor: Mapped[str | None] = mapped_column(Text)     # resume point of an interrupted run
    last_complete: Mapped[datetime | None] = mapped_column(DateTime)
    harvested: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[datetime | None] = mapped_column(DateTime)


# SQLite: footprint envelope and acquisition interval in one 3-D R*Tree (x, y, time), so
# that a bbox + datetime search starts from the records matching both. Time is in days
# since 1970 (R*Tree coordinates are 32-bit floats, rounded outwards); a record without a
# time, or whose time SQLite cannot read, spans every time (the column tests decide).
RTREE_COLUMNS = 'id, minx, maxx, miny, maxy, mint, maxt'
EPOCH_JULIAN_DAY = 2440587.5
NO_TIME = 1e30


def _rtree_values(row: str) -> str:
    return (f'{row}.pk, {row}.minx, {row}.maxx, {row}.miny, {row}.maxy, '
            f'coalesce(julianday({row}.time_start) - {EPOCH_JULIAN_DAY}, -{NO_TIME}), '
            f'coalesce(julianday(coalesce({row}.time_end, {row}.time_start)) - '
            f'{EPOCH_JULIAN_DAY}, {NO_TIME})')


SQLITE_RTREE = [
    f'CREATE VIRTUAL TABLE IF NOT EXISTS {RTREE} USING rtree({RTREE_COLUMNS})',
    f'''CREATE TRIGGER IF NOT EXISTS eoorder_record_rtree_ins AFTER INSERT ON eoorder_record
        WHEN NEW.minx IS NOT NULL BEGIN
        INSERT INTO {RTREE} VALUES ({_rtree_values('NEW')}); END''',
    f'''CREATE TRIGGER IF NOT EXISTS eoorder_record_rtree_upd AFTER UPDATE ON eoorder_record
        BEGIN DELETE FROM {RTREE} WHERE id = OLD.pk;
        INSERT INTO {RTREE} SELECT {_rtree_values('NEW')}
        WHERE NEW.minx IS NOT NULL; END''',
    f'''CREATE TRIGGER IF NOT EXISTS eoorder_record_rtree_del AFTER DELETE ON eoorder_record
        BEGIN DELETE FROM {RTREE} WHERE id = OLD.pk; END''',
]
# the index of the records already stored (a table made with an older R*Tree)
SQLITE_RTREE_FILL = (f'INSERT INTO {RTREE} SELECT {_rtree_values("r")} '
                     'FROM eoorder_record r WHERE r.minx IS NOT NULL')


def rtree_day(value: datetime) -> float:
    """The R*Tree's time coordinate of a (naive UTC) datetime: days since 1970."""
    return (value - datetime(1970, 1, 1)).total_seconds() / 86400


# footprint and acquisition interval in one GiST index: bbox + datetime in one index scan
# (with separate indexes PostgreSQL ANDs the footprint with half the time index)
GEOM_TIME_INDEX = ("CREATE INDEX IF NOT EXISTS ix_eoorder_record_geom_time ON eoorder_record "
                   "USING gist (geom, tsrange(time_start, coalesce(time_end, time_start), '[]'))")

# the footprint column from the GeoJSON, in 2D: RFC 7946 positions may carry an altitude
# (kept in the document), the geom column is 2D
GEOM_FUNCTION = (
    "CREATE OR REPLACE FUNCTION eoorder_record_geom() RETURNS trigger AS $f$ BEGIN "
    "NEW.geom := CASE WHEN NEW.geometry IS NULL THEN NULL "
    "ELSE ST_Force2D(ST_SetSRID(ST_GeomFromGeoJSON(NEW.geometry), 4326)) END; "
    "RETURN NEW; END $f$ LANGUAGE plpgsql")

# PostGIS when available (the extension is created by the deployer or scripts/catalogue-*)
_POSTGRES_SPATIAL = '''
DO $$ BEGIN
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'postgis') THEN
    ALTER TABLE eoorder_record ADD COLUMN IF NOT EXISTS geom geometry(Geometry, 4326);
    CREATE INDEX IF NOT EXISTS ix_eoorder_record_geom ON eoorder_record USING gist (geom);
    EXECUTE %(geom_time)s;
    EXECUTE %(geom_function)s;
    DROP TRIGGER IF EXISTS eoorder_record_geom ON eoorder_record;
    CREATE TRIGGER eoorder_record_geom BEFORE INSERT OR UPDATE OF geometry ON eoorder_record
      FOR EACH ROW EXECUTE FUNCTION eoorder_record_geom();
  ELSE
    CREATE INDEX IF NOT EXISTS ix_eoorder_record_bbox
      ON eoorder_record (collection, minx, maxx, miny, maxy);
  END IF;
END $$;
''' % {'geom_time': "'" + GEOM_TIME_INDEX.replace("'", "''") + "'",
       'geom_function': "'" + GEOM_FUNCTION.replace("'", "''") + "'"}

for _statement in SQLITE_RTREE:
    event.listen(Record.__table__, 'after_create', DDL(_statement).execute_if(dialect='sqlite'))
event.listen(Record.__table__, 'after_create',
             DDL(_POSTGRES_SPATIAL).execute_if(dialect='postgresql'))


GEOM_FUNCTION_LOCK = 0x656f6f7264657232  # pg advisory lock key: replacing GEOM_FUNCTION


def add_geom_time_index(connection: Connection) -> None:
    """Give a PostGIS record table made before GEOM_TIME_INDEX existed that index (a
    no-op elsewhere: SQLite, PostgreSQL without PostGIS, tables that have it)."""
    if connection.dialect.name != 'postgresql':
        return
    has_geom = connection.execute(text(
        "SELECT 1 FROM information_schema.columns WHERE table_name = 'eoorder_record' "
        "AND column_name = 'geom'")).first()
    has_index = connection.execute(text(  # checked first: CREATE INDEX locks the table
        "SELECT 1 FROM pg_indexes WHERE indexname = 'ix_eoorder_record_geom_time'")).first()
    if has_geom and not has_index:
        connection.execute(text(GEOM_TIME_INDEX))
    if has_geom and not _geom_function_is_current(connection):
        # tables made before GEOM_FUNCTION made footprints 2D (no table lock taken); every
        # web worker and the engine run this at start: one replaces it, the others then
        # find it current (two concurrent CREATE OR REPLACE fail: "tuple concurrently
        # updated")
        connection.execute(text('SELECT pg_advisory_xact_lock(:key)'),
                           {'key': GEOM_FUNCTION_LOCK})
        if not _geom_function_is_current(connection):
            connection.execute(text(GEOM_FUNCTION))


def _geom_function_is_current(connection: Connection) -> bool:
    source = connection.execute(text(
        "SELECT prosrc FROM pg_proc WHERE proname = 'eoorder_record_geom'")).scalar()
    return source is not None and 'ST_Force2D' in source
