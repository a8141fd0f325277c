# The single backend of every Varnish node in Swarm: the back routers' VIP (default.vcl includes
# this file; the local farm writes its own). The VIP spreads over the router-back replicas.
backend default {
  .host = "services_router-back";
  .port = "8080";
  .connect_timeout = 2s;
  .first_byte_timeout = 30s;
  .between_bytes_timeout = 10s;
}
