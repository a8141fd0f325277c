# Where BAN and PURGE may come from (default.vcl includes this file; the local farm writes its
# own, loopback only). A purge needs both: an address here and the x-purge-secret header.
# Swarm: the cache-purger's network farm_purge (create-networks.sh), which no router joins.
acl purgers {
  "127.0.0.1";
  "::1";
  "10.210.2.0"/24;
}
