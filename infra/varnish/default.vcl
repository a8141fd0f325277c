vcl 4.1;
# Starter VCL of the local farm's cache tier. The per-instance includes (backends.vcl,
# purge-secret.vcl) are generated next to the instance (see common/src/peers/varnish.ts).
# The full WordPress rules (generated from common/src/cache-rules.ts) arrive with issue 4.

import std;
import xkey;

include "backends.vcl";
include "purge-secret.vcl";

acl purgers {
  "127.0.0.1";
  "::1";
}

sub vcl_recv {
  call farm_purge_secret;
  if (req.method == "BAN" || req.method == "PURGE") {
    if (!(client.ip ~ purgers) || !req.http.x-purge-secret || req.http.x-purge-secret != req.http.x-farm-purge-secret-expected) {
      return (synth(403, "Forbidden"));
    }
    unset req.http.x-farm-purge-secret-expected;
    if (req.method == "PURGE" && req.http.xkey-purge) {
      set req.http.n-gone = xkey.purge(req.http.xkey-purge);
      return (synth(200, "Purged " + req.http.n-gone));
    }
    if (req.method == "BAN" && req.http.x-ban-host) {
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

  if (req.method != "GET" && req.method != "HEAD") {
    return (pass);
  }
  if (req.http.Authorization || req.url ~ "^/wp-(admin|json)/" || req.url ~ "/(wp-login|xmlrpc|wp-cron|wp-comments-post|admin-ajax)\.php") {
    return (pass);
  }
  if (req.http.Cookie ~ "(^|;\s*)(wordpress_logged_in_|wordpress_sec_|wp-postpass_|comment_author_|wp_woocommerce_session_|woocommerce_items_in_cart=|woocommerce_cart_hash=)") {
    return (pass);
  }
  unset req.http.Cookie;
  return (hash);
}

sub vcl_backend_response {
  # Lurker-friendly bans test only obj.* headers.
  set beresp.http.x-url = bereq.url;
  set beresp.http.x-host = bereq.http.host;
  if (beresp.http.Set-Cookie || beresp.http.Cache-Control ~ "(private|no-store)" || beresp.http.Vary == "*") {
    set beresp.uncacheable = true;
    set beresp.ttl = 120s;
    return (deliver);
  }
  if (beresp.status >= 500) {
    set beresp.uncacheable = true;
    set beresp.ttl = 0s;
    return (deliver);
  }
  if (beresp.status == 404 || beresp.status == 301 || beresp.status == 302) {
    set beresp.ttl = 60s;
  } else if (!beresp.http.Cache-Control ~ "max-age") {
    set beresp.ttl = 300s;
  }
  set beresp.grace = 1h;
}

sub vcl_deliver {
  if (obj.hits > 0) {
    set resp.http.x-cache = "HIT";
  } else {
    set resp.http.x-cache = "MISS";
  }
  unset resp.http.x-url;
  unset resp.http.x-host;
  unset resp.http.xkey;
}
