// PostGraphile 4 over the benchmark database, as the peer of platform-api in bench/run.sh.
// DATABASE_URL: the database; PEER_PORT: where to listen (127.0.0.1). Query logging is off
// so that, like platform-api at RUST_LOG=warn, it writes nothing per request.
const http = require("http");
const { postgraphile } = require("postgraphile");

const url = process.env.DATABASE_URL;
const port = Number(process.env.PEER_PORT || 15000);
if (!url) {
  console.error("DATABASE_URL is required");
  process.exit(2);
}

const middleware = postgraphile(url, "public", {
  disableQueryLog: true,
  graphiql: false,
  enhanceGraphiql: false,
  watchPg: false,
  retryOnInitFail: false,
  dynamicJson: true,
  setofFunctionsContainNulls: false,
  disableDefaultMutations: true,
  extendedErrors: [],
});

http.createServer(middleware).listen(port, "127.0.0.1", () => {
  console.log(`postgraphile listening on http://127.0.0.1:${port}/graphql`);
});
