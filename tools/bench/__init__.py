"""`make bench`: ddns-edge's figures from the namespace world, side by side with ddclient.

Run as root: `make bench` (or `.venv/bin/python -m tools.bench [--quick]`). It builds the
world of tools/netns/world.py (rtr -> isp -> srv with a real BIND), runs `ddns-edge run` in
the router namespace as a user would, prints a table and writes bench/results.json (and
the table as bench/results.txt). Benchmarks report figures; nothing here is a timed test.

How each figure is measured (the same words are printed under the table):

- Change time. The bench process holds a netlink socket opened inside the router namespace
  (pyroute2, made after setns(2) into it) and changes the WAN address itself: it adds the
  new address, then deletes the old one, then replaces the default route, as a DHCP client
  does (the router keeps no route of its own). The change time is taken just before the
  delete, the moment the new address becomes the only one (until then the address rules
  keep the published address, so the agent rightly does nothing on the add).
- The agent's own time: from the bench's own rtnetlink listener in the router namespace
  receiving that delete (a thread blocked in recv()) to the kernel's timestamp of the
  agent's UPDATE on the WAN (an AF_PACKET socket, SO_TIMESTAMPNS): stamps.py.
- The check: after the last change, the read the agent makes once no copy of its last
  UPDATE can land (its replay defence); counted and timed. Late copy and replay: a man in
  the middle in the isp (tools/netns/replayproxy.py) holds back A->B until B->A landed, or
  replays a captured A->B; how long BIND held the wrong address, and the messages the
  agent spent setting it back (counted by the proxy).
- Visible time. A UDP socket opened inside the server namespace asks BIND for the record
  (no recursion, straight to BIND, never through the isp, so it is not counted) about
  every millisecond, and only while a change is pending; the answer is checked on the
  wire, without a DNS library (polling costs about 9 % of a core here, and BIND 7 %).
  The figure is the time the first answer with the new address arrived: an upper bound.
  The flip happened after BIND answered the previous poll, so the true value is at most
  one poll interval plus one round trip lower; the table gives that resolution.
- Latency: spaced changes, each made 20-60 ms after the previous one was confirmed, with
  the agent idle. Memory: then back-to-back changes up to 1,000 in all, each made as soon
  as the previous one is visible at BIND and confirmed in the agent's state file (so every
  one is processed, none coalesced, and no UPDATE response is sent to an address already
  gone); RSS (VmRSS of the agent) after start, after the spaced changes, every 100 changes
  and at the end.
- Start-up: from just before the process is spawned (`ip netns exec ... ddns-edge run`, as
  an init system in a namespace would) to BIND answering the WAN address, with the record
  set to another address beforehand so the first sync is an UPDATE that shows. Measured
  with the config leaving zone and server out (found by SOA through resolv.conf) and with
  both given; the cost of `ip netns exec` itself is given too.
- Start-up as a router pays it (issue 19): the same start, zone and server given, with the
  wall time to BIND answering and the agent's CPU (user + sys: its schedstat run time, once
  it has confirmed the record), in three installs: its byte code compiled; its modules as .py
  files only with PYTHONDONTWRITEBYTECODE=1 (OpenWrt's python3 never writes byte code, so a
  package of .py files is compiled in RAM at every start; dnspython and pyroute2 compiled, as
  the feed ships them); and dnspython and pyroute2 as .py files too. Beside them, run the same
  way (`ip netns exec`, the same interpreter, wall time and rusage to its exit): `python3 -c
  pass`, `python3 -c 'import dns.message, pyroute2'` (all of pyroute2: more than the agent
  imports) and `ip netns exec /bin/true`. Medians of the runs, and the ratios: a router's own
  `python3 -c pass` times the ratio estimates the agent's start-up there.
- Messages. Packets from the router to BIND are the isp's nftables counters (world.py);
  an extra nftables table in the isp splits UDP DNS messages by the opcode in their
  header (@th,81,4: 0 QUERY, 5 UPDATE). UPDATE messages are also counted by BIND itself
  (its statistics channel, opcode counters: UDP and TCP alike, for large UPDATEs go over
  TCP); the bench's own queries are QUERYs from inside srv and never UPDATEs.
- No-op: kernel events that must not change the record (the current address re-added,
  a private address and an IPv6 address added and removed on the WAN, an address on
  another link); packets counted, and the agent's context switches show it woke for them.
- Idle: nothing changes for 60 s; the agent's CPU time (sum of its threads' schedstat
  run time, in ns), wakeups (context switches) and packets to BIND.
- Scale: 100 A records on the WAN; after one change, the time until all 100 answer the new
  address (a sentinel record is polled, then every record checked) and the messages sent.
- Records (issue 21; `--only-records` runs it alone): 1,000 and then 10,000 A records in one
  zone, in a config as LuCI writes one (about 230 bytes a record), none at BIND before: from
  just before the spawn to every record answering the WAN address (the last one polled, then
  every one checked), the messages sent by then (UDP reads at the isp, UPDATEs as BIND
  counted them, UDP or TCP) and the agent's RSS; then the reads of the replay defence's
  check, about 12 s after the last UPDATE (one a record).
- WAN clients (`--clients`, `--only-clients`), each in a world of its own whose router keeps no
  route of its own (World(routes="client")), with the clients of tools/netns/wanclients.py:
  the veth with addresses set as udhcpc's stock script sets them, PPPoE (rp-pppoe; pppd's
  kernel side stood in: pppd's `defaultroute`, and OpenWrt's `nodefaultroute` with netifd's
  route once ppp-up's update reaches it), DHCP under netifd (dnsmasq, udhcpc under OpenWrt's
  dhcp.script and netifd, stood in by tools/netns/netifd_standin.py in netifd's order: NAK on
  renew and release-renew in turn), SLAAC (radvd, the kernel: renumbering) and DHCPv6 IA_NA
  (Kea, dhcpcd: renew to another address). Latency: from the moment the new address is usable
  in the kernel (the first rtnetlink event showing it, not tentative nor deprecated, as read
  by the bench's own listener in the router namespace, a thread blocked in recv(); rtnetlink
  carries no timestamp) to the first poll answered with it, the poller started with the
  change. No address: from the listener's event that left the WAN without a usable address
  of the family (the old one deleted or deprecated) to the new one usable. Route after
  address: from the new address usable to the first default route of the family the listener
  saw added in the main table before BIND answered ("there before" when none came). Errors,
  warnings and retries: the agent's `error:`, `warning:` and `retry` lines over the changes.
  Wrong: addresses BIND's journal shows were published and never were the right one (a
  temporary, deprecated, private or peer address). The latency rows above are the veth, its
  default route made as a DHCP client makes it (Wan.change in measure.py).
- ddclient (the Debian package; protocol=nsupdate, daemon=60, its minimum) in the same
  world, on the same kind of change. It polls: a change waits for its next poll. Changes
  are made at stratified phases of its 60 s cycle, so its latency spreads over 0-60 s; its
  figure is bounded by its polling interval, not by its work. It runs with use=if (not
  usev4=ifv4) and min-error-interval=0: see measure_ddclient for why (3.10's nsupdate
  bookkeeping would otherwise add a poll to each change and resend unchanged addresses).
- LAN (issue 14, tools/bench/lan.py; last; --no-lan skips it, --only-lan runs it alone): 20
  EUI-64 hosts on the router's br-lan (tools/netns/lan.py: Kea delegates, dhcpcd asks,
  radvd advertises) and 20 AAAA records by host_id in one zone; the delegated prefix
  renumbered 10 times the ISP's way (Kea's pool moves, the client renews). From the moment
  the bench's rtnetlink listener sees the router's address in the new prefix usable on
  br-lan (DAD done) to the last of the 20 answering its new address at BIND (the poller,
  started with the renumbering); BIND's UPDATE count per renumbering; wrong: what BIND's
  journal shows published that is not a host's address in a delegated prefix. "Not
  supported yet" while `ddns-edge check` refuses the options.
- Failover (issue 23, tools/bench/failover.py; in a world of its own, after the rest;
  --no-failover skips it, --only-failover runs it alone): one record on two WANs through
  two ISPs, policy failover, with the mwan3 stand-in (tools/netns/twowan.py: mwan3's status,
  then the iface hotplug scripts, as mwan3track does). 20 failovers (the primary's ISP stops
  forwarding, links and routes stay; mwan3 says disconnected) and 20 returns (connected).
  From the event (the stand-in running the hotplug scripts) to BIND answering the other
  WAN's address (the poller); BIND's UPDATE count per event; wrong: what BIND's journal shows
  published that is neither WAN's address, and UPDATEs beyond one an event.
- Fleet (issue 24; `--fleet N`, `--only-fleet`; tools/bench/fleet.py), in a world of its own
  with a second named in the server namespace, secondary to the first (NOTIFY without delay,
  IXFR): N agents, each `ddns-edge run` with its own config, record and key (granted only its
  own name), all following the router's one WAN device, so one address change is N UPDATEs
  at once; once with the primary healthy, once with it stopped (SIGSTOP) just before the
  change and continued (SIGCONT) 10 s later. Messages: every datagram the router sends to
  port 53, taken on its WAN with the kernel's time stamp (AF_PACKET) and given to the agent
  whose record it names; the isp's counters beside it. Right: every record not yet right is
  asked at the primary and at the secondary every 50 ms from inside srv (not counted);
  convergence is timed from the change, or from the primary's return. The primary's CPU
  (/proc/<pid>/stat) from the change until the replay checks' reads are done (the polls are
  in it). Datagrams the server's kernel dropped for a full socket buffer (UDP RcvbufErrors).
  Error, warning and retry lines in the agents' logs from the change on. Capacity: a load
  generator in srv keeps 64 signed UPDATEs (signed beforehand, one zone) in flight for 2 s;
  NOERROR answers per second, the best of three runs.
"""
