// Run once by the official image on the first start of an empty first member (after
// the root user is made): one user per service, allowed only in its own database.
// Passwords come from the compose secrets written by deploy/compose_secrets.py.
const secrets = process.env.BDG_SECRETS_DIR || "/run/secrets";
const services = {
  registry: process.env.BDG_REGISTRY_DATABASE || "bdg_registry",
  events: process.env.BDG_EVENTS_DATABASE || "bdg_events",
  reporting: process.env.BDG_REPORTING_DATABASE || "bdg_reporting",
};
const admin = db.getSiblingDB("admin");
for (const [service, database] of Object.entries(services)) {
  const password = fs.readFileSync(`${secrets}/mongo_${service}_password`, "utf8").trim();
  admin.createUser({
    user: service,
    pwd: password,
    // readWrite for the data; dbAdmin for index and collection changes at start-up.
    roles: [
      { role: "readWrite", db: database },
      { role: "dbAdmin", db: database },
    ],
  });
  print(`bdg: user ${service} created for database ${database}`);
}
