#!/bin/bash
# Reference solution: deploy owns the site directory (www-data only reads it), the
# unreadable source file goes back to deploy, and the script publishes readable files
# (umask 022 instead of 077).
set -euo pipefail
runuser -u deploy -- deploy-site || true     # Permission denied
chown deploy:deploy /home/deploy/build/assets/logo.svg
chmod 644 /home/deploy/build/assets/logo.svg
chown -R deploy:deploy /var/www/site
chmod 755 /var/www/site
sed -i 's/^umask 077$/umask 022/' /usr/local/bin/deploy-site
runuser -u deploy -- deploy-site
runuser -u www-data -- cat /var/www/site/VERSION
