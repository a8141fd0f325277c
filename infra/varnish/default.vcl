vcl 4.1;
# The WordPress VCL of the farm's cache tier (local farm and the cache stack).
#
# Includes:
#   backends.vcl      per instance, generated: where fetches go. Either a single backend
#                     `default` (startVarnish, common/src/peers/varnish.ts: the back router in
#                     the local farm, the demo origin in tests), or backends with a director and
#                     a `sub vcl_recv` that sets req.backend_hint, which VCL runs before the one
#                     below (subroutines of one name are concatenated in include order). The
#                     Swarm image renders the latter from VARNISH_BACKEND, one backend per
#                     address of tasks.services_router-back, probed on /ping, and `backend
#                     default none;` (503) while that name resolves to nothing
#                     (infra/docker/varnish/entrypoint.sh).
#   purgers.vcl       per deployment: acl purgers, the addresses BAN/PURGE may come from (the local
#                     farm: loopback; Swarm: the farm_purge network, infra/stacks/varnish/purgers.vcl)
#   purge-secret.vcl  per instance, generated: sub farm_purge_secret (never committed)
#   cache-rules.vcl   generated from common/src/cache-rules.ts (node infra/src/vcl-rules.ts)
#
# Purge interface (the cache-purger codes against it; keep it stable):
#   BAN   + x-ban-host: H [+ x-ban-url: U (exact)]  -> ban obj.http.x-host == H [&& obj.http.x-url == U]
#   PURGE + xkey-purge: "k1 k2"                      -> xkey.purge (objects gone)
#   PURGE + xkey-softpurge: "k1 k2"                  -> xkey.softpurge (objects stale, kept for grace)
#   Only from acl purgers AND with x-purge-secret equal to the instance's secret: 200, else 403.
#
# Freshness: the site's htmlTtl / shortTtl (hints x-farm-ttl / x-farm-short-ttl from the back
# router), else the origin's Cache-Control max-age, else 300 s. grace = staleWhileRevalidate +
# staleIfError: within SWR a stale object is served while one background fetch runs; beyond it
# the request fetches synchronously and falls back to the stale object only when that fetch
# fails (restart with x-farm-sie).

import std;
import xkey;

include "backends.vcl";
include "purgers.vcl";
include "purge-secret.vcl";
include "cache-rules.vcl";

sub vcl_recv {
  call farm_purge_secret;
  if (req.method == "BAN" || req.method == "PURGE") {
    if (!(client.ip ~ purgers) || !req.http.x-purge-secret || req.http.x-purge-secret != req.http.x-farm-purge-secret-expected) {
      return (synth(403, "Forbidden"));
    }
    unset req.http.x-farm-purge-secret-expected;
    if (req.method == "PURGE" && req.http.xkey-purge) {
      set req.http.x-farm-n = xkey.purge(req.http.xkey-purge);
      return (synth(200, "Purged " + req.http.x-farm-n));
    }
    if (req.method == "PURGE" && req.http.xkey-softpurge) {
      set req.http.x-farm-n = xkey.softpurge(req.http.xkey-softpurge);
      return (synth(200, "Softpurged " + req.http.x-farm-n));
    }
    if (req.method == "BAN" && req.http.x-ban-host) {
      # The values go into a ban expression: allow only what a host name and a URL path can
      # hold, and quote them, so a header can never add a clause to the expression.
      if (req.http.x-ban-host !~ "^[a-z0-9.-]{1,253}$" || (req.http.x-ban-url && req.http.x-ban-url !~ "^/[^\s\x22\\]{0,4095}$")) {
        return (synth(400, "Bad ban request"));
      }
      if (req.http.x-ban-url) {
        ban("obj.http.x-host == " + req.http.x-ban-host + " && obj.http.x-url == " + req.http.x-ban-url);
      } else {
        ban("obj.http.x-host == " + req.http.x-ban-host);
      }
      return (synth(200, "Banned"));
    }
    return (synth(400, "Bad purge request"));
  }
  unset req.http.x-farm-purge-secret-expected;

  # The front router's health probe: answered by Varnish itself, never by the backend. 503 while
  # the image's entrypoint drains this node before stopping it (docker/varnish/entrypoint.sh,
  # VARNISH_DRAIN_SECONDS): the routers take it out while it still serves what they send.
  if (req.url == "/.varnish-health") {
    # Unset outside the image's drain: file_exists("") is false.
    if (std.file_exists(std.getenv("FARM_DRAIN_FILE"))) {
      return (synth(503, "Draining"));
    }
    return (synth(200, "OK"));
  }

  unset req.http.x-farm-reason;
  if (req.restarts == 0) {
    unset req.http.x-farm-fresh;
    unset req.http.x-farm-sie;
  }
  call farm_rules_recv;
  unset req.http.x-farm-woocommerce;
  unset req.http.x-farm-rest-cache;
  unset req.http.x-farm-bypass;
  if (req.http.x-farm-fresh) {
    # Beyond stale-while-revalidate: fetch synchronously (see vcl_hit).
    set req.grace = 0s;
  } else if (req.http.x-farm-sie) {
    # req.grace survives a restart: lift the limit so the stale object's own grace applies.
    set req.grace = 365d;
  }
  return (hash);
}

sub vcl_hash {
  hash_data(req.url);
  hash_data(req.http.host);
  return (lookup);
}

sub vcl_hit {
  set req.http.x-farm-cache = "hit";
  if (obj.ttl < 0s) {
    set req.http.x-farm-cache = "stale";
    # Within stale-while-revalidate (stored in obj.http.x-farm-swr): deliver; Varnish refreshes
    # in the background. Beyond it, unless we are already falling back after an error, restart
    # and fetch synchronously.
    if (!req.http.x-farm-sie && obj.ttl + std.duration(obj.http.x-farm-swr + "s", 60s) < 0s) {
      set req.http.x-farm-fresh = "1";
      return (restart);
    }
  }
  return (deliver);
}

sub vcl_miss {
  set req.http.x-farm-cache = "miss";
  return (fetch);
}

sub vcl_pass {
  set req.http.x-farm-cache = "pass";
  return (fetch);
}

sub vcl_backend_fetch {
  unset bereq.http.x-farm-cache;
  unset bereq.http.x-farm-reason;
  return (fetch);
}

sub vcl_backend_response {
  # Lurker-friendly bans test only obj.* headers.
  set beresp.http.x-url = bereq.url;
  set beresp.http.x-host = bereq.http.host;
  set beresp.http.x-farm-swr = std.integer(beresp.http.x-farm-swr, 60);
  set beresp.http.x-farm-sie = std.integer(beresp.http.x-farm-sie, 86400);

  if (beresp.status >= 500) {
    # Keep the stale object: a background refresh, or a synchronous one that has a stale
    # object to fall back to, gives up instead of replacing it with an error.
    if (bereq.is_bgfetch || bereq.http.x-farm-fresh) {
      return (abandon);
    }
    set beresp.ttl = 0s;
    set beresp.uncacheable = true;
    return (deliver);
  }
  if (bereq.uncacheable) {
    return (deliver);
  }
  if (beresp.http.Set-Cookie || beresp.http.Cache-Control ~ "(?i)(private|no-store|no-cache)" || beresp.http.Vary == "*") {
    # Hit-for-miss for two minutes: later requests go straight to the origin, no queueing.
    set beresp.uncacheable = true;
    set beresp.ttl = 120s;
    return (deliver);
  }
  if (beresp.status != 200 && beresp.status != 203 && beresp.status != 301 && beresp.status != 404 && beresp.status != 410) {
    # Same stored statuses as the edge; the rest (302, 403, ...) are passed through.
    set beresp.uncacheable = true;
    set beresp.ttl = 120s;
    return (deliver);
  }
  # Freshness from the site policy (the back router's hints), like the edge; without hints
  # (Varnish straight in front of an origin) the origin's max-age, else 300 s.
  if (beresp.status == 301 || beresp.status == 404 || beresp.status == 410) {
    set beresp.ttl = std.duration(beresp.http.x-farm-short-ttl + "s", 60s);
  } else if (beresp.http.x-farm-ttl) {
    set beresp.ttl = std.duration(beresp.http.x-farm-ttl + "s", 300s);
  } else if (beresp.http.Cache-Control !~ "(?i)(s-maxage|max-age)") {
    set beresp.ttl = 300s;
  }
  set beresp.grace = std.duration(beresp.http.x-farm-swr + "s", 60s) + std.duration(beresp.http.x-farm-sie + "s", 86400s);
  # keep is not limited by req.grace: a lookup with req.grace = 0s would otherwise discard the
  # stale object before the synchronous refresh could fall back on it.
  set beresp.keep = beresp.grace;
  unset beresp.http.x-farm-ttl;
  unset beresp.http.x-farm-short-ttl;
  return (deliver);
}

sub vcl_backend_error {
  if (bereq.is_bgfetch || bereq.http.x-farm-fresh) {
    return (abandon);
  }
  return (deliver);
}

sub vcl_deliver {
  if (req.http.x-farm-cache == "hit" || req.http.x-farm-cache == "stale") {
    set resp.http.x-cache = "HIT";
  } else {
    set resp.http.x-cache = "MISS";
  }
  set resp.http.x-cache-state = req.http.x-farm-cache;
  if (req.http.x-farm-reason) {
    set resp.http.x-cache-reason = req.http.x-farm-reason;
  }
  unset resp.http.x-url;
  unset resp.http.x-host;
  unset resp.http.xkey;
  unset resp.http.x-farm-swr;
  unset resp.http.x-farm-sie;
  unset resp.http.x-farm-ttl;
  unset resp.http.x-farm-short-ttl;
  unset resp.http.x-varnish;
  unset resp.http.via;
  return (deliver);
}

sub vcl_synth {
  # A synchronous refresh failed (abandoned in the backend): serve the stale object instead.
  if (resp.status == 503 && req.http.x-farm-fresh && req.restarts < 3) {
    unset req.http.x-farm-fresh;
    set req.http.x-farm-sie = "1";
    return (restart);
  }
  set resp.http.x-cache = "SYNTH";
  set resp.http.content-type = "text/plain; charset=utf-8";
  set resp.body = resp.reason + {"
"};
  return (deliver);
}
