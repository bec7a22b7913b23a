// An error whose message is meant for the user as is: one line that says what went wrong and what to
// do. The CLI prints it without a stack trace.

export class UserFacingError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'UserFacingError';
  }
}
