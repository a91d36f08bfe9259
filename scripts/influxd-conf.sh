# Sourced by scripts/demo.sh and scripts/measure-startup.sh: the configuration of a private influxd.
# influxd_conf DIR HTTP_PORT RPC_PORT prints an influxdb.conf keeping its data under DIR, listening on 127.0.0.1 only,
# with reporting, the monitor store and request logs off.
influxd_conf() {
  cat <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:$3"
[meta]
  dir = "$1/meta"
[data]
  dir = "$1/data"
  wal-dir = "$1/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:$2"
  log-enabled = false
[logging]
  level = "warn"
CONF
}
