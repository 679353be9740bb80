namespace Tessera;

/// <summary>
/// A store refuses a write it cannot carry out where it is called (the encrypted cookie store after the response
/// started): the caller's mistake, not a store failure, so it is not turned into
/// <see cref="SessionStoreUnavailableException"/>.
/// </summary>
internal sealed class SessionWriteRefusedException(string message) : InvalidOperationException(message);
