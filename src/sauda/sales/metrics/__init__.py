"""Sales metrics: figures by day, week, month and hour of day, payment mix, top products; read
from the rollups (sauda.sales.rollups), never by scanning receipts per request."""
