-- Loaded by redis-master.cfg (HAProxy 2.6 and later: Debian bookworm's 2.6, the official 2.9).
--
-- lua.farm_one_checked_master(<backend>): true when exactly one server of the backend is UP and
-- that server's last role check passed. The frontend accepts a connection only then, and the
-- health monitor answers 200 only then.
--
-- Why not nbsrv(<backend>) == 1 alone: HAProxy counts a server UP before its first check, at
-- start and again whenever DNS gives it an address (init-addr none), until a check fails. With
-- the other names not resolved yet, nbsrv() is 1 while that one server may be a replica, and
-- the first writes get READONLY (measured with haproxy 2.6: ~2 s of READONLY answers). The stats
-- field check_status says "INI" until a check completed, then the last result ("L7OK" when the
-- whole tcp-check passed), prefixed with "* " while the next check runs.
core.register_fetches("farm_one_checked_master", function(txn, backend)
  local proxy = core.backends[backend]
  if proxy == nil then
    return false
  end
  local up, checked = 0, 0
  for _, server in pairs(proxy.servers) do
    local stats = server:get_stats()
    if string.sub(stats.status or "", 1, 2) == "UP" then
      up = up + 1
      local last = string.gsub(stats.check_status or "", "^%* ", "")
      if last == "L7OK" then
        checked = checked + 1
      end
    end
  end
  return up == 1 and checked == 1
end)
