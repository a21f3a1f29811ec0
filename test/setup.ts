import { hideSdkNodeVersionWarning } from '../lib/cli/warnings';

hideSdkNodeVersionWarning();
