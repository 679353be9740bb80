using Tessera.Cli;

return await TesseraCli.RunAsync(args, Console.Out, Console.Error, Environment.GetEnvironmentVariable, interactive: !Console.IsOutputRedirected).ConfigureAwait(false);
