#!/usr/bin/env bash
# Start bantin's SFTP server: one chrooted login per district from the public keys an operator puts in
# /keys (mounted read-only from config/sftp-keys/ beside docker-compose.yml):
#
#   /keys/bantin.pub   the pipeline's key (its private half is in Airflow's SFTP connection)
#   /keys/193.pub      the clerk(s) of district 193 (one key a line), login "d193"
#
# Layout (docs/channels.md): /srv/sftp/<code>/{inbox,processed,feedback}. The clerk writes inbox/ and reads
# processed/ and feedback/; the pipeline reads inbox/ and writes the other two. Safe to restart: users and
# folders are created when missing, a key file changed is picked up, nothing in the folders is touched.
set -euo pipefail

KEYS=${SFTP_KEYS:-/keys}
ROOT=/srv/sftp
AUTHORIZED=/etc/ssh/authorized
mkdir -p "$AUTHORIZED" /etc/ssh/sshd_config.d /etc/ssh/keys
[[ -f /etc/ssh/keys/ssh_host_ed25519_key ]] || ssh-keygen -q -t ed25519 -N "" -f /etc/ssh/keys/ssh_host_ed25519_key
echo "host key (put it in the Airflow SFTP connection's host_key extra):"
cat /etc/ssh/keys/ssh_host_ed25519_key.pub

getent group bantin >/dev/null || groupadd --system bantin
id bantin >/dev/null 2>&1 || useradd --system --gid bantin --no-create-home --shell /usr/sbin/nologin bantin
install -m 0644 "$KEYS/bantin.pub" "$AUTHORIZED/bantin.pub"
chown root:root "$ROOT" && chmod 0755 "$ROOT"  # chroot folders must be root's

: > /etc/ssh/sshd_config.d/districts.conf
for key in "$KEYS"/*.pub; do
  code=$(basename "$key" .pub)
  [[ "$code" =~ ^[0-9]+$ ]] || continue
  user="d${code}"
  getent group "$user" >/dev/null || groupadd "$user"
  id "$user" >/dev/null 2>&1 || useradd --gid "$user" --no-create-home --shell /usr/sbin/nologin "$user"
  install -m 0644 "$key" "$AUTHORIZED/$user.pub"
  install -d -o root -g root -m 0755 "$ROOT/$code"
  install -d -o "$user" -g bantin -m 2770 "$ROOT/$code/inbox"        # clerk writes; bantin reads and moves out
  install -d -o bantin -g "$user" -m 2750 "$ROOT/$code/processed"    # bantin writes; clerk reads
  install -d -o bantin -g "$user" -m 2750 "$ROOT/$code/feedback"
  cat >> /etc/ssh/sshd_config.d/districts.conf <<CONF
Match User $user
    ChrootDirectory $ROOT/$code
    ForceCommand internal-sftp -d /inbox -u 0007 -P setstat,fsetstat
CONF
  echo "district $code: login $user"
done

/usr/sbin/sshd -t
exec /usr/sbin/sshd -D -e
