/** pg's client module on its own (pg exports `./lib/*`); @types/pg types only the package's index. */
declare module 'pg/lib/client' {
  import { Client } from 'pg';
  export = Client;
}
