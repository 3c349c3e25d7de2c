/** The benchmark drives the broker's API with the tests' JSON client. */
export { ApiClient as Api } from '../support/api-client.js';
