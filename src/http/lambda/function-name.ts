import { LambdaError } from './errors.ts';

/** What a Lambda `FunctionName` (plus `?Qualifier=`) names: a function, maybe a version or alias. */
export interface FunctionTarget {
  name: string;
  qualifier: string | undefined;
}

const NAME = '[A-Za-z0-9_-]{1,140}';
const QUALIFIER = /^(\$LATEST|[A-Za-z0-9_-]{1,128})$/;
const FULL_ARN = new RegExp(`^arn:aws[a-zA-Z-]*:lambda:([a-z0-9-]+):(\\d{12}):function:(${NAME})(?::([^:]*))?$`);
const PARTIAL_ARN = new RegExp(`^(\\d{12}):function:(${NAME})(?::([^:]*))?$`);
const PLAIN = new RegExp(`^(${NAME})(?::([^:]*))?$`);

/**
 * Parses the forms Lambda accepts: `name`, `name:qualifier`, `arn:aws:lambda:REGION:ACCOUNT:function:name[:qualifier]`
 * and the partial ARN `ACCOUNT:function:name[:qualifier]`. Region and account are not checked:
 * the namespace comes from the caller's key. A qualifier in the name and a different
 * `?Qualifier=` is an error, as on Lambda.
 */
export function parseFunctionName(functionName: string, queryQualifier?: string): FunctionTarget {
  if (functionName.length > 256) throw invalid(functionName, 'is longer than 256 characters');
  let m: RegExpExecArray | null;
  let name: string;
  let qualifier: string | undefined;
  if (functionName.startsWith('arn:')) {
    m = FULL_ARN.exec(functionName);
    if (!m) throw invalid(functionName, 'is not a Lambda function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER])');
    name = m[3]!;
    qualifier = m[4];
  } else if ((m = PARTIAL_ARN.exec(functionName))) {
    name = m[2]!;
    qualifier = m[3];
  } else if ((m = PLAIN.exec(functionName))) {
    name = m[1]!;
    qualifier = m[2];
  } else {
    throw invalid(functionName, 'must be a name (letters, digits, - and _), name:qualifier, or a function ARN');
  }
  if (qualifier !== undefined && !QUALIFIER.test(qualifier)) throw invalid(functionName, 'has an invalid qualifier: use a version number, $LATEST or an alias name');
  if (queryQualifier !== undefined && queryQualifier !== '') {
    if (!QUALIFIER.test(queryQualifier)) {
      throw new LambdaError('InvalidParameterValueException', `invalid Qualifier ${JSON.stringify(queryQualifier)}: use a version number, $LATEST or an alias name`);
    }
    if (qualifier !== undefined && qualifier !== queryQualifier) {
      throw new LambdaError('InvalidParameterValueException',
        `The derived qualifier from the function name does not match the specified qualifier: ${JSON.stringify(qualifier)} in the name, ${JSON.stringify(queryQualifier)} in ?Qualifier=; give one of them`);
    }
    qualifier = queryQualifier;
  }
  return { name, qualifier };
}

function invalid(functionName: string, why: string): LambdaError {
  return new LambdaError('InvalidParameterValueException', `FunctionName ${JSON.stringify(functionName)} ${why}`);
}
