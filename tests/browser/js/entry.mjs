// The page of the token service's browser test uses the official credential
// as an app would: this bundle exposes it on `window`.
import { AzureCommunicationTokenCredential } from "@azure/communication-common";

window.AzureCommunicationTokenCredential = AzureCommunicationTokenCredential;
